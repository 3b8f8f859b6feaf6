// When the detail page reads the server rather than the cache.

export interface DetailRead {
  id: string;
  /** Bumped by the page after the person's own actions. */
  asked: number;
  /** This read asked the server and has not answered yet. */
  refreshing: boolean;
}

/**
 * The server on open, after one's own action, and while an earlier server
 * read is still under way (the newest read is the one shown, and the cache
 * may not hold what that read will bring); the cache otherwise.
 */
export function readsServer(prev: DetailRead | null, id: string, asked: number): boolean {
  return !prev || prev.id !== id || prev.asked !== asked || prev.refreshing;
}
