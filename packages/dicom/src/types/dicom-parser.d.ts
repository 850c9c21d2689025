// dicom-parser exports its DataSet class at run time (dicomParser.DataSet) but its typings only
// describe the interface; this merges the constructor in so a dataset can be built around our own loop.
declare module 'dicom-parser' {
  export const DataSet: new (byteArrayParser: ByteArrayParser, byteArray: ByteArray, elements: Record<string, Element>) => DataSet;
}
