/** The Accept header of the viewer's DICOM JSON reads (QIDO-RS, WADO-RS metadata): DICOM JSON, or plain JSON. */
export const DICOM_JSON_ACCEPT = 'application/dicom+json, application/json';
