import type { PlanCell } from '../../lib/analysis/rebalance';

/** A rebalancing plan cell as people read it: "cat", or "cat × indoor" in a plan per class × group. */
export function planCellName(cell: Pick<PlanCell, 'label' | 'group'>, attribute: string | null): string {
  return attribute ? `${cell.label} × ${cell.group ?? ''}` : cell.label;
}
