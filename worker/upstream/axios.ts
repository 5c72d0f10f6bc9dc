/**
 * axios, loaded without waking Node's own fetch. On import axios reads the web globals (`FormData`
 * in its utils, `fetch`, `Request` and `Response` where it probes its fetch adapter), and each
 * read makes Node load its bundled undici: 8 MB of RSS and 50 ms of every start-up, for an adapter
 * the mirror never uses (every request goes through the http adapter, transport.ts). They are
 * hidden while axios loads and put back as they were at once, so a webhook's `fetch()` still works
 * (and loads undici then). Every run-time use of axios imports it from here, first.
 */
import type * as AxiosModule from 'axios';

/** The globals axios reads on import whose getters load undici. */
const WEB_GLOBALS = ['fetch', 'FormData', 'Request', 'Response', 'Headers'] as const;

async function loadAxios(): Promise<typeof AxiosModule> {
  const saved = WEB_GLOBALS.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  for (const [name, descriptor] of saved) {
    // Something else made it unconfigurable: leave it (axios then loads undici, as it always did).
    if (descriptor?.configurable === false) continue;
    Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true });
  }
  try {
    return await import('axios');
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor?.configurable === false) continue;
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete (globalThis as Record<string, unknown>)[name];
    }
  }
}

const loaded = await loadAxios();

export const axios = loaded.default;
export const isAxiosError = loaded.isAxiosError;
export type { AxiosAdapter, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
