/** A mirror directory served the way the stack serves it: the real nginx in front of the worker's on-demand listener. */
import type { Config } from '../../worker/config.js';
import { silentLogger } from '../../worker/log.js';
import { type OnDemandListener, startOnDemand } from '../../worker/ondemand/listener.js';
import { MirrorDir } from '../../worker/publish/mirror-dir.js';
import { openUpstream } from '../../worker/sync/run.js';
import { type RunningNginx, startNginx } from './nginx.js';

export interface OnDemandStack {
  listener: OnDemandListener;
  nginx: RunningNginx;
  stop(): Promise<void>;
}

/** `config.onDemandListen` should ask for port 0: the listener takes a free one, nginx is told it. */
export async function serveWithOnDemand(config: Config): Promise<OnDemandStack> {
  const logger = silentLogger();
  const listener = await startOnDemand(
    config,
    new MirrorDir(config.mirrorDir),
    openUpstream(config, { logger }),
    logger,
  );
  const nginx = await startNginx({
    mirrorRoot: config.mirrorDir,
    onDemandUrl: `http://127.0.0.1:${listener.address.port}`,
  });
  return {
    listener,
    nginx,
    async stop() {
      await nginx.stop();
      await listener.close();
    },
  };
}
