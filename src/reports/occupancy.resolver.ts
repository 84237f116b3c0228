import { Arg, Ctx, ID, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import type { RequestContext } from '../auth/context';
import { eventFeedOf } from '../events/event-feed';
import { Occupancy, OccupancyStream, countOccupancy, occupancyStation } from './occupancy';

/** Authorized before the stream starts: a caller who may not see the station gets FORBIDDEN and no stream. */
async function subscribeOccupancy({ args, context }: SubscribeResolverData<unknown, { stationId: string }, RequestContext>) {
  const station = await occupancyStation(context, args.stationId);
  return new OccupancyStream(
    () => countOccupancy(context.db, station),
    eventFeedOf(context.db),
    station.id,
    context.settings.config.occupancyRefreshMs,
  );
}

@Resolver(() => Occupancy)
export class OccupancyResolver {
  @Query(() => Occupancy, { description: "A station's occupancy now: its own staff and the administrator." })
  async occupancy(@Ctx() ctx: RequestContext, @Arg('stationId', () => ID) stationId: string): Promise<Occupancy> {
    return countOccupancy(ctx.db, await occupancyStation(ctx, stationId));
  }

  @Subscription(() => Occupancy, {
    name: 'occupancy',
    description: "The station's occupancy, sent at once and again after every change (its own staff and the administrator).",
    subscribe: subscribeOccupancy,
  })
  occupancyChanged(@Root() occupancy: Occupancy, @Arg('stationId', () => ID) _stationId: string): Occupancy {
    return occupancy;
  }
}
