// TensorBoard's plugin channel: the MessagePort a framed plugin gets by
// posting "experimental.bootstrap" to TensorBoard's window (what
// tensorboard/components/experimental/plugin_lib does). Messages are JSON
// `{type, id, payload, error, isReply}` both ways; every message that is not
// a reply is answered. TensorBoard answers "experimental.GetRuns" (its run
// list, in its order) and announces "experimental.RunsChanged" (the new run
// list) and "experimental.DataReloaded" (its reload button, its auto-reload).

/**
 * Opens the channel to TensorBoard's window `host`.
 * @param {Window} host
 * @returns {{request: (type: string, payload?: any) => Promise<any>, listen: (type: string, handler: (payload: any) => void) => void}}
 */
export function openChannel(host) {
  const channel = new MessageChannel();
  const port = channel.port1;
  const handlers = new Map();
  const waiting = new Map();
  let nextId = 0;
  const post = (message) => port.postMessage(JSON.stringify(message));
  port.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.isReply) {
      const wait = waiting.get(message.id);
      waiting.delete(message.id);
      if (wait && message.error) wait.reject(new Error(String(message.error)));
      else wait?.resolve(message.payload);
      return;
    }
    handlers.get(message.type)?.(message.payload);
    post({ type: message.type, id: message.id, payload: null, error: null, isReply: true });
  });
  port.start();
  host.postMessage("experimental.bootstrap", location.origin, [channel.port2]);
  return {
    request(type, payload = null) {
      const id = nextId++;
      post({ type, id, payload, error: null, isReply: false });
      return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
    },
    listen(type, handler) {
      handlers.set(type, handler);
    },
  };
}
