/**
 * Type-checked by `pnpm typecheck` (tsc), not run by vitest: the TC39 decorator syntax of
 * `withRoute` on class-based controllers in both frameworks.
 */
import type { Request, Response } from 'express';
import type { Context } from 'koa';
import { withRoute as expressRoute } from '@breakwater/express';
import { withRoute as koaRoute } from '@breakwater/koa';

export class ExpressChatController {
  @expressRoute({ chain: ['openai', 'anthropic'], static: true })
  async post(req: Request, res: Response): Promise<void> {
    res.json(await req.breakwater.call({ messages: req.body.messages }));
  }
}

export class KoaChatController {
  @koaRoute({ chain: ['openai', 'anthropic'], static: true })
  async post(ctx: Context): Promise<void> {
    ctx.body = await ctx.state.breakwater.call({ messages: [] });
  }
}
