// /git/*: the smart-HTTP git gateway every sandbox's origin points at (see src/gateway/).
import { Hono } from 'hono';
import type { AppEnv } from './app-types.ts';

/** The git gateway sub-app. */
export const gatewayApp = new Hono<AppEnv>();
