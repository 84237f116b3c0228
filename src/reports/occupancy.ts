import { Field, Int, ObjectType } from 'type-graphql';
import type { DataSource } from 'typeorm';
import { Agency } from '../agencies/agency.entity';
import { agencyLoaders } from '../agencies/agency.loaders';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import type { EventFeed } from '../events/event-feed';
import { badInput, forbidden, notFound } from '../shared/errors';
import { uuidOf } from '../shared/relay';

@ObjectType({ description: "Where a station's people are right now: the persons of its open cases, by who holds them." })
export class Occupancy {
  @Field(() => Agency)
  station!: Agency;

  @Field(() => Int, { description: '今日滞站: persons of open cases whose custodian is the station.' })
  inStation!: number;

  @Field(() => Int, { description: 'Persons of open cases held by a psychiatric hospital.' })
  inHospital!: number;

  @Field(() => Int, { description: 'Persons of open cases held by a welfare home.' })
  inWelfareHome!: number;

  @Field(() => Int, { description: 'Persons of open cases with a referral IN_TRANSIT (on the way somewhere, with an escort).' })
  inTransit!: number;

  @Field(() => Int, { description: 'Open cases past the end of their rescue period (救助期限).' })
  overdueCases!: number;

  @Field({ description: 'When these counts were taken.' })
  at!: Date;
}

/**
 * The station an occupancy is asked for, after checking that the caller may
 * see it: the station's own staff (any role) and the administrator.
 */
export async function occupancyStation(ctx: RequestContext, stationGlobalId: string): Promise<Agency> {
  const actor = requireAuthenticated(ctx.actor);
  const stationId = uuidOf('Agency', stationGlobalId, 'stationId');
  if (actor.kind === 'account' && actor.agencyId !== stationId) throw forbidden("Only the station's own staff may see its occupancy.");
  const station = await agencyLoaders(ctx).agency.load(stationId);
  if (!station) throw notFound('Agency');
  if (station.kind !== AgencyKind.RESCUE_STATION) throw badInput('stationId', 'Occupancy is kept by rescue stations.');
  return station;
}

/**
 * One statement, aggregates only, over the station's open cases (a person
 * has at most one open case, so cases count persons) joined to the open
 * custody record of each person and its holder's kind.
 */
export async function countOccupancy(db: DataSource, station: Agency): Promise<Occupancy> {
  const [row]: { in_station: number; in_hospital: number; in_welfare_home: number; in_transit: number; overdue: number; at: Date }[] =
    await db.query(
      `SELECT count(*) FILTER (WHERE k.holder_id = c.station_id)::int AS in_station,
              count(*) FILTER (WHERE h.kind = 'PSYCHIATRIC_HOSPITAL')::int AS in_hospital,
              count(*) FILTER (WHERE h.kind = 'WELFARE_HOME')::int AS in_welfare_home,
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM referral r WHERE r.person_id = c.person_id AND r.status = 'IN_TRANSIT'))::int
                AS in_transit,
              count(*) FILTER (WHERE c.rescue_period_ends_at < now())::int AS overdue,
              now() AS at
         FROM rescue_case c
         LEFT JOIN custody_record k ON k.person_id = c.person_id AND k.to_at IS NULL
         LEFT JOIN agency h ON h.id = k.holder_id
        WHERE c.station_id = $1 AND c.status = 'OPEN'`,
      [station.id],
    );
  return {
    station,
    inStation: row.in_station,
    inHospital: row.in_hospital,
    inWelfareHome: row.in_welfare_home,
    inTransit: row.in_transit,
    overdueCases: row.overdue,
    at: row.at,
  };
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

const countsOf = (o: Occupancy) => [o.inStation, o.inHospital, o.inWelfareHome, o.inTransit, o.overdueCases].join(',');

/**
 * A station's occupancy: at once, then again whenever it changed. Re-counts
 * when the feed reports events or case changes touching the station (or
 * after the listener was away, when it cannot know which), and every
 * `refreshMs` because overdue cases grow with the clock alone. Changes that
 * arrive while counting mark it dirty again, so the last count always
 * follows the last change. Memory stays constant however slow the client:
 * changes coalesce into one flag.
 */
export class OccupancyStream implements AsyncIterableIterator<Occupancy> {
  private dirty = true;
  private ended = false;
  private lastSent: string | undefined;
  private waiting: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly count: () => Promise<Occupancy>,
    feed: EventFeed,
    stationId: string,
    refreshMs: number,
  ) {
    this.unsubscribe = feed.watchStations({
      changed: (stations) => {
        if (stations === 'all' || stations.has(stationId)) this.poke();
      },
      return: () => this.return(),
    });
    this.timer = setInterval(() => this.poke(), refreshMs);
    this.timer.unref();
  }

  async next(): Promise<IteratorResult<Occupancy>> {
    for (;;) {
      if (this.ended) return DONE;
      if (!this.dirty) {
        await new Promise<void>((resolve) => (this.waiting = resolve));
        continue;
      }
      this.dirty = false;
      let value: Occupancy;
      try {
        value = await this.count();
      } catch {
        // graphql-ws sends an iterator's error message as it is: never the driver's.
        this.end();
        throw new Error('The hub could not count occupancy just now; subscribe again shortly.');
      }
      if (this.ended) return DONE;
      const counts = countsOf(value);
      if (counts === this.lastSent) continue;
      this.lastSent = counts;
      return { done: false, value };
    }
  }

  async return(): Promise<IteratorResult<Occupancy>> {
    this.end();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private poke(): void {
    this.dirty = true;
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    clearInterval(this.timer);
    this.poke();
  }
}
