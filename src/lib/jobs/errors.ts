/**
 * Named errors. comlink rebuilds only `{name, message, stack}` on the other side of a
 * worker boundary, so code branches on `err.name`, never on `instanceof`. Every error a
 * user can cause says what to do next.
 */
export class HearthError extends Error {
  constructor(message: string, name = 'HearthError') {
    super(message);
    this.name = name;
  }
}

/** The job was cancelled by the user; not a failure. */
export class CancelledError extends HearthError {
  constructor(message = 'Cancelled.') {
    super(message, 'CancelledError');
  }
}

/** A stored record the caller named does not exist. */
export class NotFoundError extends HearthError {
  constructor(message: string) {
    super(message, 'NotFoundError');
  }
}

/** Input the user supplied is unusable; the message says why and what to do. */
export class InvalidInputError extends HearthError {
  constructor(message: string) {
    super(message, 'InvalidInputError');
  }
}

/** The browser refused to store more (quota); the message says how to free space. */
export class StorageFullError extends HearthError {
  constructor(message: string) {
    super(message, 'StorageFullError');
  }
}

/** A compute backend that was asked for cannot run here. */
export class BackendUnavailableError extends HearthError {
  constructor(message: string) {
    super(message, 'BackendUnavailableError');
  }
}

export function isCancelled(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'CancelledError';
}

/** A plain `{name, message}` for storing or showing an error that came from anywhere. */
export function describeError(err: unknown): { name: string; message: string } {
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; message?: unknown };
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: typeof e.message === 'string' ? e.message : String(err),
    };
  }
  return { name: 'Error', message: String(err) };
}
