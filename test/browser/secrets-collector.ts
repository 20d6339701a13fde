// A collection endpoint on another origin that keeps every request body as received and answers each batch with
// the body a test scripts: what the collector of CONTRACT section 6 says about a batch, partial rejections included.
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { readBody } from "./delivery-site.js";

export interface RecordingCollector {
  url: string;
  /** Every request body, as the browser sent it. */
  bodies: string[];
  /** The answer to a batch of these ids (status 200); `{ accepted, duplicates, rejected: [] }` unless a test sets it. */
  answer: (ids: string[]) => string;
  close(): Promise<void>;
}

export async function startRecordingCollector(): Promise<RecordingCollector> {
  const sockets = new Set<Socket>();
  const collector: RecordingCollector = {
    url: "",
    bodies: [],
    answer: (ids) => JSON.stringify({ accepted: ids.length, duplicates: 0, rejected: [] }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
  const server = createServer(async (request, response) => {
    response.setHeader("Access-Control-Allow-Origin", "*");
    if (request.method !== "POST") return void response.writeHead(204).end();
    const body = await readBody(request);
    collector.bodies.push(body);
    const ids = (JSON.parse(body) as { batch: { id: string }[] }).batch.map((event) => event.id);
    response.writeHead(200, { "Content-Type": "application/json" }).end(collector.answer(ids));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  collector.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/batch`;
  return collector;
}
