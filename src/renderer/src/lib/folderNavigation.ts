/**
 * Which folder the web folder browser shows and which one "Choose" may pick, while listings
 * arrive out of order. A person who clicks a folder and then "Choose" means the folder they
 * clicked, so nothing can be chosen while a folder is opening (the listing still on screen is
 * its parent), and a listing that arrives after a later navigation began is dropped. After a
 * folder failed to open, the listing still on screen is not the one asked for either: nothing
 * can be chosen until a folder opens.
 */
export class FolderNavigation<Listing extends { path: string }> {
  #shown: Listing | null = null;
  #latest = 0;
  #opening = false;
  #failed = false;

  /** Starts opening a folder; pass the returned ticket to `arrived` or `failed`. */
  start(): number {
    this.#opening = true;
    return ++this.#latest;
  }

  /** The listing for `ticket` came; false (and nothing changes) when a later navigation superseded it. */
  arrived(ticket: number, listing: Listing): boolean {
    if (ticket !== this.#latest) return false;
    this.#shown = listing;
    this.#opening = false;
    this.#failed = false;
    return true;
  }

  /** The folder for `ticket` could not be opened; false when a later navigation superseded it. */
  failed(ticket: number): boolean {
    if (ticket !== this.#latest) return false;
    this.#opening = false;
    this.#failed = true;
    return true;
  }

  get shown(): Listing | null {
    return this.#shown;
  }

  get opening(): boolean {
    return this.#opening;
  }

  /** The folder "Choose" picks now: the one shown, or null while another is opening or after one failed. */
  get choosable(): string | null {
    return this.#opening || this.#failed ? null : (this.#shown?.path ?? null);
  }
}
