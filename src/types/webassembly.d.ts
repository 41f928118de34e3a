// Node runs WebAssembly as browsers do, but @types/node 22 declares none of its globals, and TypeScript's own
// declarations come with lib "dom" and the whole DOM. This declares the part the plain-line kernel uses.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
