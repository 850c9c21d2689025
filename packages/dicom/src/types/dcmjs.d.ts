// The small part of dcmjs this package uses; dcmjs ships no types.
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
  }
  interface DicomDict {
    meta: Record<string, unknown>;
    dict: Record<string, unknown>;
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        dictionary: Record<string, DictionaryEntry | undefined>;
        nameMap: Record<string, DictionaryEntry | undefined>;
        naturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
      };
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict;
      };
    };
  };
  export default dcmjs;
}
