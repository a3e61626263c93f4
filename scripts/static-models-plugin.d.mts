import type { Plugin } from 'vite';

export declare const STATIC_MODELS_DIR: string;
export declare const STATIC_MODELS_URL: string;
export declare function staticModels(): Plugin;
