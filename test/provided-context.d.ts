// Values the integration globalSetup provides to tests and to the Worker's bindings.
import type { StackInfo } from '../local/stack-info.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
    oracleUrl: string;
    workerBindings: Record<string, string>;
  }
}
