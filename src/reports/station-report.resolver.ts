import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../auth/context';
import { StationReport, stationReport } from './station-report';

@Resolver(() => StationReport)
export class StationReportResolver {
  @Query(() => StationReport, {
    description: "A station's work report (工作汇报) on the cases opened in [from, to): for its own staff and the administrator.",
  })
  stationReport(
    @Ctx() ctx: RequestContext,
    @Arg('stationId', () => ID) stationId: string,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
  ): Promise<StationReport> {
    return stationReport(ctx, stationId, from, to);
  }
}
