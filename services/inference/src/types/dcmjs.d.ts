// The small part of dcmjs the SR writer uses; dcmjs ships no types.
declare module 'dcmjs' {
  type Naturalized = Record<string, unknown>;
  interface DicomDictInstance {
    meta: Naturalized;
    dict: Naturalized;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: new (meta: Naturalized) => DicomDictInstance;
      DicomMetaDictionary: {
        denaturalizeDataset(dataset: Naturalized): Naturalized;
      };
    };
  };
  export default dcmjs;
}
