import { ageAtStudy, isoDate, parseDicomDate } from './patient-age';

describe('ageAtStudy', () => {
  test('whole years from two years on, counted to the birthday', () => {
    expect(ageAtStudy('19800615', '20240614')).toBe('43 y');
    expect(ageAtStudy('19800615', '20240615')).toBe('44 y');
  });
  test('months below two years, days below a month', () => {
    expect(ageAtStudy('20230110', '20240109')).toBe('11 mo');
    expect(ageAtStudy('20240101', '20240120')).toBe('19 d');
  });
  test('falls back to PatientAge when a date is missing or invalid, null when nothing is usable', () => {
    expect(ageAtStudy(null, '20240101', '045Y')).toBe('45 y');
    expect(ageAtStudy('19801345', '20240101', '006M')).toBe('6 mo');
    expect(ageAtStudy('20250101', '20240101', null)).toBeNull();
    expect(ageAtStudy(null, null, '45 years')).toBeNull();
  });
});

describe('DICOM dates', () => {
  test('accepts YYYYMMDD and the legacy dotted form, refuses impossible dates', () => {
    expect(isoDate('19810229')).toBeNull();
    expect(isoDate('19840229')).toBe('1984-02-29');
    expect(isoDate('1984.02.03')).toBe('1984-02-03');
    expect(parseDicomDate('2024-01-01')).toBeNull();
  });
});
