export declare const UI_LIB_VALUE_IMPORTS: readonly string[];
