import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeSessionToken } from '../../renderer/src/transport/session-token.js';

function place(hash: string) {
  const store = new Map<string, string>();
  const urls: string[] = [];
  return {
    urls,
    store,
    p: {
      location: { hash, pathname: '/', search: '' },
      storage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) },
      history: { replaceState: (_d: unknown, _u: string, url: string) => void urls.push(url) },
    },
  };
}

test('the first visit moves the token from the fragment into sessionStorage and out of the address bar', () => {
  const a = place('#token=abc%2Bdef');
  assert.equal(takeSessionToken(a.p), 'abc+def');
  assert.deepEqual(a.urls, ['/']);
  assert.equal(a.store.get('delineate.token'), 'abc+def');
  // a reload has no fragment: the stored token is used
  const b = place('');
  b.store.set('delineate.token', 'abc+def');
  assert.equal(takeSessionToken(b.p), 'abc+def');
  assert.deepEqual(b.urls, []);
  assert.equal(takeSessionToken(place('#other').p), undefined);
});
