// /git/*: the smart-HTTP git gateway every sandbox's origin points at (see src/gateway/proxy.ts).
import { Hono } from 'hono';
import { handleGit } from '../gateway/proxy.ts';
import type { AppEnv } from './app-types.ts';

/** The git gateway sub-app. */
export const gatewayApp = new Hono<AppEnv>();
gatewayApp.all('/git/*', (c) => handleGit(c.req.raw, { env: c.env, cfg: c.var.svc.cfg, log: c.var.svc.log }));
