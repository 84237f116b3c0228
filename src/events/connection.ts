/**
 * How a subscription can end its own WebSocket connection (a subscriber too
 * slow to keep up is cut off with a close code that tells it to resume). The
 * server binds it to each operation's context; modules below the server ask
 * here without knowing about sockets.
 */
export type CloseConnection = (code: number, reason: string) => void;

const connections = new WeakMap<object, CloseConnection>();

export function bindConnection(context: object, close: CloseConnection): void {
  connections.set(context, close);
}

/** The connection's closer, or undefined outside a WebSocket (HTTP has no subscriptions). */
export function connectionOf(context: object): CloseConnection | undefined {
  return connections.get(context);
}
