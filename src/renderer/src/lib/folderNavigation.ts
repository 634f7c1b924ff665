/**
 * Which folder the web folder browser shows and which one "Choose" may pick, while listings
 * arrive out of order. A person who clicks a folder and then "Choose" means the folder they
 * clicked, so nothing can be chosen while a folder is opening (the listing still on screen is
 * its parent), and a listing that arrives after a later navigation began is dropped.
 */
export class FolderNavigation<Listing extends { path: string }> {
  #shown: Listing | null = null;
  #latest = 0;
  #opening = false;

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
    return true;
  }

  /** The folder for `ticket` could not be opened; false when a later navigation superseded it. */
  failed(ticket: number): boolean {
    if (ticket !== this.#latest) return false;
    this.#opening = false;
    return true;
  }

  get shown(): Listing | null {
    return this.#shown;
  }

  get opening(): boolean {
    return this.#opening;
  }

  /** The folder "Choose" picks now: the one shown, or null while another is opening. */
  get choosable(): string | null {
    return this.#opening ? null : (this.#shown?.path ?? null);
  }
}
