// A stand-in for Voucherify's client-side API on another origin: CORS preflights answered as Voucherify does for an
// allow-listed domain, client headers checked, every body validated against Voucherify's own schema (shared/).
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { voucherifyErrors } from "../voucherify.js";

export interface FakeVoucherify {
  api: string;
  /** Bodies accepted with 200, in order. */
  accepted: Record<string, unknown>[];
  /** Every POST: when it arrived and what it was answered. */
  posts: { at: number; status: number; problem: string | null }[];
  /** Statuses to answer the next POSTs with (429 comes with Retry-After: 1). */
  script: number[];
  close(): Promise<void>;
}

export async function startFakeVoucherify(appId: string, clientToken: string): Promise<FakeVoucherify> {
  const errorsOf = voucherifyErrors();
  const sockets = new Set<Socket>();
  const fake: FakeVoucherify = { api: "", accepted: [], posts: [], script: [], close: async () => undefined };
  const server = createServer((request, response) => {
    response.setHeader("Access-Control-Allow-Origin", request.headers.origin ?? "*");
    response.setHeader("Access-Control-Expose-Headers", "Retry-After");
    if (request.method === "OPTIONS") {
      response.setHeader("Access-Control-Allow-Methods", "POST");
      response.setHeader("Access-Control-Allow-Headers", "Content-Type, X-Client-Application-Id, X-Client-Token");
      return void response.writeHead(204).end();
    }
    // When the request arrived, as Voucherify counts it: before its body is read and checked, which a busy test
    // process may delay.
    const at = Date.now();
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      let problem: string | null = null;
      let parsed: Record<string, unknown> = {};
      if (request.url !== "/client/v1/events") problem = `unknown path ${request.url}`;
      else if (request.headers["x-client-application-id"] !== appId || request.headers["x-client-token"] !== clientToken) problem = "bad client credentials";
      else if (!request.headers.origin) problem = "no origin header";
      else {
        parsed = JSON.parse(body) as Record<string, unknown>;
        problem = errorsOf(parsed);
      }
      const status = problem ? 400 : (fake.script.shift() ?? 200);
      fake.posts.push({ at, status, problem });
      if (status === 200) fake.accepted.push(parsed);
      response.writeHead(status, { "Content-Type": "application/json", ...(status === 429 ? { "Retry-After": "1" } : {}) });
      response.end(JSON.stringify(problem ? { code: 400, message: problem } : { object: "event", type: parsed.event }));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  return fake;
}
