// One connection to the NATS servers, for a caller or a host, with the
// user's credentials, and an error that names the servers when none answers.
import {
  connect,
  type ConnectionOptions,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import { _describe } from "../runtime/util.ts";

/** How to reach and log in to the NATS servers. */
export interface ConnectOptions {
  /** One server URL, several comma-separated, or a list: `"nats://127.0.0.1:4222"`. */
  servers: string | string[];
  /** User and password, as the server's `authorization` block has them. */
  user?: string;
  /** The password of `user`. */
  pass?: string;
  /** A token, as the server's `authorization { token }` has it. */
  token?: string;
  /** An nkey seed (`SU...`): the server knows its public key. */
  nkeySeed?: string;
  /**
   * TLS: `true` to require it with the system's CAs, or the files of a
   * private CA and of a client certificate.
   */
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string };
  /** How long to try before giving up on a first connection. @default {5000} */
  connectTimeoutMs?: number;
}

/** The server list of `options`, checked. */
export function _servers(options: ConnectOptions): string[] {
  const raw = options?.servers;
  const list = typeof raw === "string" ? raw.split(",") : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === "string")) {
    throw new TypeError(
      `'servers' must be a NATS URL or a list of them, such as "nats://127.0.0.1:4222", got ${
        _describe(raw)
      }`,
    );
  }
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Connects, or throws an error that names the servers and why. */
export async function _connect(options: ConnectOptions, name: string): Promise<NatsConnection> {
  const servers = _servers(options);
  const timeout = options.connectTimeoutMs ?? 5000;
  const opts: ConnectionOptions = {
    servers,
    name,
    timeout,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  };
  if (options.user !== undefined) {
    opts.user = options.user;
    opts.pass = options.pass;
  }
  if (options.token !== undefined) opts.token = options.token;
  if (options.nkeySeed !== undefined) {
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed));
  }
  if (options.tls) {
    const t = options.tls === true ? {} : options.tls;
    opts.tls = {
      ...(t.caFile ? { caFile: t.caFile } : {}),
      ...(t.certFile ? { certFile: t.certFile } : {}),
      ...(t.keyFile ? { keyFile: t.keyFile } : {}),
    };
  }
  // A server that refuses the login closes the socket, and the transport, which has given up on
  // it, leaves the reset unhandled: without this it would end the program (Deno 2.9,
  // transport-node 3.4). Only that error, only around a first connection.
  const refusedSocket = (event: ErrorEvent) => {
    const error = event.error as { code?: unknown; stack?: unknown } | undefined;
    if (error?.code === "ECONNRESET" && String(error.stack).includes("onStreamRead")) {
      event.preventDefault();
    }
  };
  globalThis.addEventListener("error", refusedSocket);
  try {
    const nc = await connect(opts);
    globalThis.removeEventListener("error", refusedSocket);
    return nc;
  } catch (error) {
    Deno.unrefTimer(setTimeout(() => globalThis.removeEventListener("error", refusedSocket), 2000));
    throw new Error(
      `cannot reach the NATS server at ${servers.join(", ")} within ${timeout} ms: ` +
        `${(error as Error).message}. Is nats-server running there (with -js)?`,
      { cause: error },
    );
  }
}
