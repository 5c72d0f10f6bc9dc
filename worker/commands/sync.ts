/** `openwrt-mirror sync`: one sync, stopped cleanly by SIGTERM or SIGINT. */
import type { Config } from '../config.js';
import { AbortedError } from '../errors.js';
import { createLogger, loggerOptions } from '../log.js';
import { runSync } from '../sync/run.js';

export async function syncCommand(config: Config): Promise<number> {
  const logger = createLogger(loggerOptions(config));
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    logger.warn(`${signal}: stopping the sync; the tree served before stays served`);
    controller.abort(new AbortedError(`stopped by ${signal}`));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const { exitCode } = await runSync(config, { logger, signal: controller.signal });
    return exitCode;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
