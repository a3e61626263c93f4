export * from './catalog';
export * from './idx';
export * from './load';
