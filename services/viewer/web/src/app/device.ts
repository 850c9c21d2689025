import { t } from './i18n';

/**
 * A short, readable name for the device a sign-in came from ("Chrome on Windows", "WeChat on Android"), from its
 * User-Agent as the server recorded it: enough for a user to recognise their own devices, not a fingerprint.
 */
export function deviceLabel(userAgent: string | null): string {
  if (userAgent === null || userAgent.trim() === '') return t('unknown device', '未知设备');
  const ua = userAgent;
  const browser = /MicroMessenger/i.test(ua)
    ? 'WeChat'
    : /Edg\//.test(ua)
      ? 'Edge'
      : /OPR\//.test(ua)
        ? 'Opera'
        : /Firefox\//.test(ua)
          ? 'Firefox'
          : /Chrome\/|Chromium\//.test(ua)
            ? 'Chrome'
            : /Safari\//.test(ua)
              ? 'Safari'
              : /^curl\//i.test(ua)
                ? 'curl'
                : /node|undici|axios|python|java|okhttp|go-http/i.test(ua)
                  ? t('a program', '程序')
                  : 'a browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad|iPod/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : null;
  return os === null ? browser : t(`${browser} on ${os}`, `${os} 上的 ${browser}`);
}
