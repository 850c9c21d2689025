import { h, replace } from './dom';
import { t } from './i18n';
import type { Page, Teardown } from './router';

/** A page whose code is its own chunk; `preload` starts fetching it before the page is opened. */
export type LazyPage = Page & { preload: () => void };

/**
 * A page whose code is fetched when it is first opened (an esbuild chunk under /assets/chunks), or earlier by
 * `preload`. The page is drawn only if the user is still on it when the code arrives; if the code cannot be
 * fetched (offline, or the app was updated and the old chunk is gone), the page says so instead of staying blank,
 * and opening it again asks again.
 */
export function lazyPage(loader: () => Promise<Page>): LazyPage {
  let loading: Promise<Page> | null = null;
  const load = (): Promise<Page> => {
    loading ??= loader().catch((error: unknown) => {
      loading = null;
      throw error;
    });
    return loading;
  };
  const page: Page = (ctx) => {
    let left = false;
    let teardown: Teardown | void;
    replace(ctx.root, h('p', { class: 'status', role: 'status', 'aria-live': 'polite' }, t('Loading…', '加载中…')));
    load().then(
      (loaded) => {
        if (!left) teardown = loaded(ctx);
      },
      () => {
        if (left) return;
        const status = h('p', { class: 'status', role: 'alert', 'data-kind': 'error' }, t('This page could not be loaded (no connection, or the app was just updated): reload the page.', '无法加载此页面（网络中断，或应用刚刚更新）：请刷新页面。'));
        replace(ctx.root, status);
      },
    );
    return () => {
      left = true;
      if (teardown) teardown();
    };
  };
  return Object.assign(page, { preload: () => void load().catch(() => undefined) });
}

export function isLazyPage(page: Page): page is LazyPage {
  return 'preload' in page;
}
