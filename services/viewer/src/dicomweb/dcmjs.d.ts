// The part of dcmjs (which ships no types) the viewer uses: the PS3.6 keyword dictionary (DICOMweb routes)
// and the dataset writer (report SRs, reading/record/report.sr.ts).
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    name: string;
  }
  type Naturalized = Record<string, unknown>;
  interface DicomDictInstance {
    meta: Naturalized;
    dict: Naturalized;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: new (meta: Naturalized) => DicomDictInstance;
      DicomMessage: { readFile(buffer: ArrayBuffer): { meta: Naturalized; dict: Naturalized } };
      DicomMetaDictionary: {
        dictionary: Record<string, DictionaryEntry | undefined>;
        nameMap: Record<string, DictionaryEntry | undefined>;
        denaturalizeDataset(dataset: Naturalized): Naturalized;
        naturalizeDataset(dataset: Naturalized): Naturalized;
      };
    };
  };
  export default dcmjs;
}
