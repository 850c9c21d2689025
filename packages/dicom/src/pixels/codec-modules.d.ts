// The Cornerstone codec packages are Emscripten factories without types. Declared as unknown here
// and narrowed in codecs.ts.
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: (options?: Record<string, unknown>) => Promise<unknown>;
  export default factory;
}
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: (options?: Record<string, unknown>) => Promise<unknown>;
  export default factory;
}
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: (options?: Record<string, unknown>) => Promise<unknown>;
  export default factory;
}
declare module 'jpeg-lossless-decoder-js' {
  export const Decoder: new () => unknown;
}
