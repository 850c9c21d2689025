import { h, replace } from './dom';
import { t } from './i18n';
import type { Page, Teardown } from './router';

/**
 * A page whose code is fetched when it is first opened (an esbuild chunk under /assets/chunks). The page is
 * drawn only if the user is still on it when the code arrives; if the code cannot be fetched (offline, or the
 * app was updated and the old chunk is gone), the page says so instead of staying blank.
 */
export function lazyPage(load: () => Promise<Page>): Page {
  return (ctx) => {
    let left = false;
    let teardown: Teardown | void;
    replace(ctx.root, h('p', { class: 'status', role: 'status', 'aria-live': 'polite' }, t('Loading…', '加载中…')));
    load().then(
      (page) => {
        if (!left) teardown = page(ctx);
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
}
