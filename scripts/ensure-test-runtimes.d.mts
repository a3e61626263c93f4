export declare const TEST_RUNTIMES_DIR: string;
export declare function testRuntimesAreCurrent(): boolean;
export declare function ensureTestRuntimes(): string;
