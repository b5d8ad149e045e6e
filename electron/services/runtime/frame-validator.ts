/**
 * Checks, byte by byte as it arrives, that what the Python runtime writes on stdout is a run
 * of Content-Length frames and nothing else. Runtime: pure.
 *
 * Why in front of vscode-jsonrpc's reader: that reader treats a stray line ("hello\n" from a
 * library), a header block without Content-Length or an absurd Content-Length as "wait for
 * more bytes" or reports an error and loses its place, and every later request then waits
 * forever. The runtime keeps stdout for frames only (logs go to stderr), so any other byte
 * there means the channel is broken: this check names the first bad byte at once, so the
 * client can fail the pending requests with a plain sentence and restart the child.
 *
 * It only validates; the bytes themselves go on unchanged to vscode-jsonrpc, which frames and
 * decodes them. Memory use is one header line at most, whatever the child sends.
 */

/** What the runtime wrote that is not a protocol frame, in plain words, with a sample. */
export class ProtocolViolation extends Error {
  constructor(
    readonly problem: string,
    readonly sample: string,
  ) {
    super(`${problem}: ${sample}`);
    this.name = 'ProtocolViolation';
  }
}

/** The only headers the protocol knows (as LSP defines them); names compare case-free. */
const HEADER_NAMES = ['content-length', 'content-type'] as const;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const SAMPLE_BYTES = 80;

export interface FrameLimits {
  /** The largest body accepted; a larger Content-Length is a fault, not a long wait. */
  maxMessageBytes: number;
  /** The longest header line (the runtime writes ~25 bytes). */
  maxHeaderLine?: number;
}

export class FrameValidator {
  private bodyLeft = 0;
  /** The header line read so far (without CR LF), and the block's headers so far. */
  private line: number[] = [];
  private contentLength: number | null = null;
  private headerLines = 0;
  private readonly maxHeaderLine: number;

  constructor(private readonly limits: FrameLimits) {
    this.maxHeaderLine = limits.maxHeaderLine ?? 1024;
  }

  /** Check the next bytes of the stream; throws ProtocolViolation at the first bad one. */
  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= n;
        i += n;
        continue;
      }
      const byte = chunk[i]!;
      const lineStart = i - this.line.length;
      i++;
      if (byte === LF) {
        this.endLine(chunk, lineStart);
        continue;
      }
      if (this.line.at(-1) === CR) this.fail('a header line with a bare carriage return', chunk, lineStart);
      this.line.push(byte);
      if (this.line.length > this.maxHeaderLine) this.fail(`a header line longer than ${this.maxHeaderLine} bytes`, chunk, lineStart);
      if (byte === CR) continue; // the line's end, if LF follows (checked above otherwise)
      // Until the colon, the line must be on its way to a known header name: "hello" fails
      // at its first byte, without waiting for a newline that may never come.
      if (!this.line.includes(COLON) && !HEADER_NAMES.some((h) => h.startsWith(ascii(this.line).toLowerCase()))) {
        this.fail('text that is not a message header', chunk, lineStart);
      }
    }
  }

  private endLine(chunk: Uint8Array, lineStart: number): void {
    if (this.line.at(-1) !== CR) this.fail('a header line that does not end in CR LF', chunk, lineStart);
    const text = ascii(this.line.slice(0, -1));
    if (text === '') {
      if (this.headerLines === 0) this.fail('an empty line where a message header was expected', chunk, lineStart);
      if (this.contentLength === null) this.fail('a message header without Content-Length', chunk, lineStart);
      this.bodyLeft = this.contentLength;
      this.contentLength = null;
      this.headerLines = 0;
      this.line = [];
      return;
    }
    const colon = text.indexOf(':');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (!(HEADER_NAMES as readonly string[]).includes(name)) this.fail('an unknown message header', chunk, lineStart);
    if (name === 'content-length') {
      if (!/^\d{1,16}$/.test(value)) this.fail('a Content-Length that is not a number', chunk, lineStart);
      const length = Number(value);
      if (length > this.limits.maxMessageBytes) {
        this.fail(`a Content-Length of ${length} bytes, over the ${this.limits.maxMessageBytes}-byte limit`, chunk, lineStart);
      }
      this.contentLength = length;
    }
    this.headerLines++;
    this.line = [];
  }

  private fail(problem: string, chunk: Uint8Array, lineStart: number): never {
    // The sample starts at the offending line (possibly begun in an earlier chunk).
    const earlier = lineStart < 0 ? this.line.slice(0, -lineStart) : [];
    const from = Math.max(0, lineStart);
    const bytes = [...earlier, ...chunk.subarray(from, from + SAMPLE_BYTES)];
    const text = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes.slice(0, SAMPLE_BYTES)));
    throw new ProtocolViolation(problem, JSON.stringify(text) + (bytes.length > SAMPLE_BYTES ? '…' : ''));
  }
}

function ascii(bytes: number[]): string {
  return String.fromCharCode(...bytes);
}
