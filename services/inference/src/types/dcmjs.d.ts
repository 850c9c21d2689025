// The small part of dcmjs the SR writer uses; dcmjs ships no types.
declare module 'dcmjs' {
  type Naturalized = Record<string, unknown>;
  class DicomDict {
    constructor(meta: Naturalized);
    meta: Naturalized;
    dict: Naturalized;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMetaDictionary: {
        denaturalizeDataset(dataset: Naturalized): Naturalized;
      };
    };
  };
  export default dcmjs;
}
