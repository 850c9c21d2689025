export { createDicomwebRouter, type DicomwebRoutesOptions } from './dicomweb.route';
