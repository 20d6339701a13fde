// The demo: reftrack-collector (src/collector) with the demo site in front of it, the built bundle at /reftrack.js,
// the demo's event schema, a switch on the live view that simulates an endpoint outage, and Lumen's own sign-up
// handler, which confirms the conversion and sends it through reftrack/server with a key made at start.
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from "fastify";
import { randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bearerToken, secretMatcher } from "../src/collector/auth.js";
import { openDb } from "../src/collector/db.js";
import { buildCollector, originMatcher } from "../src/collector/server.js";
import { createEventStore } from "../src/collector/store.js";
import { compileSchema } from "../src/schema.js";
import { REFERRAL_CODE } from "../src/referral.js";
import { createServerClient, readReferral, type ServerClient } from "../src/server.js";

export interface DemoServerOptions {
  /** Folder of the demo pages and their event schema (`events.schema.json`). */
  siteDir: string;
  /** Folder holding the built `reftrack.js`. */
  distDir: string;
  /** SQLite database; in memory unless given. */
  dbPath?: string;
  logger?: FastifyServerOptions["logger"];
  /** What the live view (and only it) reads the collector with; random unless given. */
  readToken?: string;
}

/** The live view's token goes only to this machine's own names: a rebound DNS name is not one of them. */
const LOCAL_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/;
const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** The demo's stand-in for Voucherify's client-side API (`/direct.html` sends to it). */
export const DEMO_CLIENT = { appId: "demo-app", clientToken: "demo-client-token" };
const PLANS = ["free", "pro", "team"] as const;
const DIRECT_PATH = "/client/v1/events";

export async function createDemoServer(options: DemoServerOptions): Promise<FastifyInstance> {
  const db = openDb(options.dbPath ?? ":memory:");
  const store = createEventStore(db, { forwarding: false });
  const schema = JSON.parse(readFileSync(resolve(options.siteDir, "events.schema.json"), "utf8")) as object;
  const checker = compileSchema(schema);
  const landing = readFileSync(resolve(options.siteDir, "index.html"), "utf8");
  // Lumen's server key: made at start, known only to this process (its collector and its sign-up handler).
  const serverKey = randomBytes(32).toString("hex");
  let client: ServerClient | null = null;
  const readToken = options.readToken ?? randomBytes(32).toString("hex");
  const liveView = readFileSync(resolve(options.siteDir, "events.html"), "utf8");
  const isReadToken = secretMatcher([readToken]);
  const isOwner = (authorization: string | undefined) => {
    const token = bearerToken(authorization);
    return typeof token === "string" && isReadToken(token);
  };
  // "Simulate an outage" on the live view: batches get 503 with Retry-After until then.
  let outageUntil = 0;
  const app = await buildCollector({
    store,
    checker,
    allowOrigin: originMatcher(["http://localhost:*", "http://127.0.0.1:*"]),
    rateLimit: 600,
    serverKeys: [serverKey],
    readTokens: [readToken],
    logger: options.logger ?? false,
    configure(site) {
      site.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: 16_384 }, (_request, body, done) =>
        done(null, Object.fromEntries(new URLSearchParams(body as string))),
      );
      // Lumen's sign-up: the account is "created", then the server (never the browser) reports the conversion.
      site.post<{ Body: Record<string, string | undefined> }>("/signup", async (request, reply) => {
        const form = request.body ?? {};
        // One person, one account: the address as Lumen keys its accounts (and the conversion's customer).
        const email = (form.email ?? "").normalize("NFKC").trim().toLowerCase();
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return reply.code(400).type("text/plain").send("Enter a valid email address, then sign up again.");
        const plan = PLANS.find((known) => known === form.plan) ?? "free";
        const name = (form.name ?? "").trim().slice(0, 200);
        // The form's hidden field (data-track-referral), else the cookie: both are the visitor's to write, so the code
        // is a claim; once_per_customer and Voucherify's own checks decide what it earns.
        const code = REFERRAL_CODE.test(form.referral_code ?? "") ? form.referral_code : readReferral(request.headers.cookie)?.code;
        client ??= createServerClient({ endpoint: `http://127.0.0.1:${(site.server.address() as AddressInfo).port}/v1/batch`, key: serverKey, schema });
        try {
          await client.track({
            event: "signed_up",
            customer: { source_id: email, email, ...(name ? { name } : {}) },
            metadata: { plan, newsletter: form.newsletter === "on" },
            ...(code ? { referral: { code } } : {}),
          });
        } catch (error) {
          // The account exists whatever happens to its report: a real site would queue the report and retry it.
          request.log.error(`signed_up not recorded: ${(error as Error).message}`);
        }
        return reply.redirect(`/signup.html?welcome=1&plan=${plan}`, 303);
      });
      // events.html is served below, with the read token in it: never as a plain file.
      site.register(fastifyStatic, { root: resolve(options.siteDir), extensions: ["html"], allowedPath: (path) => path !== "/events.html" && path !== "/events" });
      // reftrack.js, and the full tracker it loads beside it, named by its content.
      for (const file of readdirSync(resolve(options.distDir)).filter((name) => /^reftrack(\.[0-9a-f]{12})?\.js$/.test(name))) {
        site.get(`/${file}`, (_request, reply) => reply.sendFile(file, resolve(options.distDir)));
      }
      site.get("/events.html", async (request, reply) => {
        reply.header("Cache-Control", "no-store");
        // The Host header is the client's to write: the connection must come from this machine too.
        const local = LOCAL_HOST.test(request.headers.host ?? "") && LOOPBACK.has(request.socket.remoteAddress ?? "");
        if (!local) return reply.code(403).type("text/plain").send("The live view is served to this machine only: open it as http://127.0.0.1:PORT/events.html");
        return reply.type("text/html").send(liveView.replace('<meta name="reftrack-read-token" content="">', `<meta name="reftrack-read-token" content="${readToken}">`));
      });
      // The outage switch is the demo's, for its own live view: the same token, checked on the routes themselves.
      const ownerOnly = async (request: FastifyRequest, reply: FastifyReply) => {
        if (!isOwner(request.headers.authorization)) return reply.code(401).send({ error: "Unauthorized", message: "The outage switch takes the live view's token" });
      };
      site.get("/demo/outage", { onRequest: ownerOnly }, async () => ({ until: outageUntil }));
      site.post<{ Body: { seconds?: unknown } }>("/demo/outage", { onRequest: ownerOnly }, async (request) => {
        const seconds = Math.min(Math.max(Number(request.body?.seconds) || 30, 1), 120);
        outageUntil = Date.now() + seconds * 1000;
        return { until: outageUntil };
      });
      // The landing page with the other destination: straight to Voucherify's client API (here, its stand-in).
      site.get("/direct.html", async (request, reply) => {
        const host = request.headers.host ?? "";
        // The Host header is the client's to write: only a plain host[:port] goes into the page.
        if (!/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(host)) return reply.code(400).send({ error: "Bad Host header" });
        const attributes = `data-voucherify-app-id="${DEMO_CLIENT.appId}"\n          data-voucherify-client-token="${DEMO_CLIENT.clientToken}"\n          data-voucherify-api="${request.protocol}://${host}"`;
        return reply.type("text/html").send(landing.replace('data-endpoint="/v1/batch"', attributes));
      });
      // The landing page with consent required, and a banner to give or refuse it.
      site.get("/consent.html", async (_request, reply) =>
        reply.type("text/html").send(
          landing.replace('data-debug="true"', 'data-debug="true"\n          data-consent="required"').replace(
            "<body>",
            `<body>
  <div id="consent-banner" class="consent" role="dialog" aria-label="Analytics consent" hidden>
    <p>Lumen would like to remember who referred you and count sign-ups, for its referral program.</p>
    <div class="consent-actions">
      <button type="button" id="consent-accept" class="button button-light">Accept</button>
      <button type="button" id="consent-decline" class="button button-ghost">Decline</button>
    </div>
  </div>`,
          ),
        ),
      );
      site.post<{ Body: Record<string, unknown> }>(DIRECT_PATH, async (request, reply) => {
        if (request.headers["x-client-application-id"] !== DEMO_CLIENT.appId || request.headers["x-client-token"] !== DEMO_CLIENT.clientToken) {
          return reply.code(401).send({ code: 401, message: "Unauthorized" });
        }
        const body = request.body ?? {};
        const sourceId = String((body.customer as { source_id?: unknown } | undefined)?.source_id ?? "");
        const checked = checker.check({ event: body.event, metadata: body.metadata, identified: sourceId !== "" && !sourceId.startsWith("anon_") });
        if (!checked.ok || sourceId === "") return reply.code(400).send({ code: 400, message: "Invalid event", issues: checked.ok ? [] : checked.issues });
        const event = { ...body, id: randomUUID(), event: String(body.event), customer: { source_id: sourceId }, metadata: checked.metadata, via: "voucherify-client-api" };
        store.storeBatch([{ event, oncePerCustomer: false }], new Date().toISOString(), "browser");
        return { object: "event", type: body.event };
      });
      site.addHook("onRequest", async (request, reply) => {
        const left = Math.ceil((outageUntil - Date.now()) / 1000);
        if (left > 0 && request.method === "POST" && (request.url === "/v1/batch" || request.url === DIRECT_PATH)) {
          return reply.code(503).header("Retry-After", String(left)).send({ error: "Simulated outage" });
        }
      });
    },
  });
  app.addHook("onClose", async () => db.close());
  return app;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8787" }, host: { type: "string", default: "127.0.0.1" }, db: { type: "string" } } });
  const root = resolve(fileURLToPath(import.meta.url), "../..");
  const app = await createDemoServer({
    siteDir: resolve(root, "demo"),
    distDir: resolve(root, "dist"),
    dbPath: values.db,
    ...(process.env.REFTRACK_READ_TOKEN ? { readToken: process.env.REFTRACK_READ_TOKEN } : {}),
    logger: process.env.CI !== "true" && !process.env.QUIET ? { level: "info" } : false,
  });
  const address = await app.listen({ port: Number(values.port), host: values.host });
  console.log(`\n  reftrack demo: ${address}/?ref=NRY-01\n  received events, live: ${address}/events.html\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
