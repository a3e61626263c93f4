/**
 * What a saved pipeline's name must be: the rule the store enforces (pipelines.ts) and the
 * Augment page checks as the user types, in the same words. Dependency-free, so the main
 * thread can import it without the transform registry.
 */
import { InvalidInputError } from '../jobs/errors';

export const PIPELINE_NAME_MAX = 60;

/** The trimmed name, or an InvalidInputError that says what a name must be. */
export function checkPipelineName(name: string, others: readonly { name: string }[]): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new InvalidInputError('Give the pipeline a name, so the Train page can offer it.');
  if (trimmed.length > PIPELINE_NAME_MAX)
    throw new InvalidInputError(`A pipeline name has at most ${PIPELINE_NAME_MAX} characters (this one has ${trimmed.length}): shorten it.`);
  const lower = trimmed.toLowerCase();
  if (others.some((p) => p.name.toLowerCase() === lower))
    throw new InvalidInputError(`This project already has a pipeline named "${trimmed}": choose another name, or open that one to change it.`);
  return trimmed;
}
