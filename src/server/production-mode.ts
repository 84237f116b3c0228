/**
 * Imported first by main.ts, before graphql-js loads: graphql-js decides at
 * load time whether to run its development-only "instanceof across realms"
 * checks on every type test (2-3% of the hub's CPU on the dashboard,
 * issue 7), and skips them only when NODE_ENV is "production". An explicit
 * NODE_ENV (e.g. development) is kept. Nothing else in the hub depends on
 * NODE_ENV: Apollo's NODE_ENV-dependent defaults (introspection, stack
 * traces, landing page) are all set explicitly in app.ts.
 */
process.env.NODE_ENV ??= 'production';
