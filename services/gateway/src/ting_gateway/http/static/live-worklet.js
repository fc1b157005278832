// Ting's microphone capture for the Live tab, on the audio thread: downmix to mono, low-pass and resample to the
// target rate (16 kHz), and post LINEAR16 frames (Int16, ~100 ms each) with their RMS level to the page.
// Messages to the page: {type: "frame", pcm: ArrayBuffer (Int16 LE), rms: 0..1}, and {type: "flushed"} after a
// "flush" message from the page (the last, shorter frame goes out first).
"use strict";

class TingLiveCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const config = (options && options.processorOptions) || {};
    this.target = config.targetRate || 16000;
    this.ratio = sampleRate / this.target;  // input samples per output sample (3 for 48 kHz)
    this.frameSamples = Math.round((this.target * (config.frameMs || 100)) / 1000);
    // Anti-alias low-pass (windowed sinc, cut at 0.45 x the target rate) when downsampling; none when upsampling.
    this.half = this.ratio > 1 ? Math.ceil(4 * this.ratio) : 0;
    this.kernel = lowPass(this.half, this.ratio > 1 ? (0.45 * this.target) / sampleRate : 0.5);
    // Mono input history: buffer[0] is input sample number `base`; starts with `half` samples of silence.
    this.buffer = new Float32Array(2 * this.half + 4096);
    this.length = this.half;
    this.base = -this.half;
    this.position = 0;  // the next output sample's position in input samples
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.squares = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") {
        this.post();
        this.port.postMessage({ type: "flushed" });
      }
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || !channels.length) return true;  // no input yet (or the track ended)
    const count = channels[0].length;
    if (this.length + count > this.buffer.length) {
      const bigger = new Float32Array(2 * (this.length + count));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
    }
    const buffer = this.buffer;
    for (let i = 0; i < count; i++) {
      let sum = 0;
      for (let c = 0; c < channels.length; c++) sum += channels[c][i];
      buffer[this.length + i] = sum / channels.length;
    }
    this.length += count;

    // Every output sample whose filter window is complete: filtered input at the two neighbours, interpolated.
    for (;;) {
      const index = Math.floor(this.position);
      const at = index - this.base;
      if (at + 1 + this.half >= this.length) break;
      const fraction = this.position - index;
      const a = this.filtered(at);
      const value = fraction > 0 ? a + (this.filtered(at + 1) - a) * fraction : a;
      this.push(value);
      this.position += this.ratio;
    }
    const drop = Math.floor(this.position) - this.half - this.base;
    if (drop > 0) {
      buffer.copyWithin(0, drop, this.length);
      this.length -= drop;
      this.base += drop;
    }
    return true;
  }

  filtered(at) {
    if (!this.half) return this.buffer[at];
    const buffer = this.buffer, kernel = this.kernel, start = at - this.half;
    let sum = 0;
    for (let k = 0; k < kernel.length; k++) sum += kernel[k] * buffer[start + k];
    return sum;
  }

  push(value) {
    const v = value > 1 ? 1 : value < -1 ? -1 : value;
    this.squares += v * v;
    this.frame[this.filled++] = v < 0 ? Math.round(v * 0x8000) : Math.round(v * 0x7fff);
    if (this.filled === this.frameSamples) this.post();
  }

  post() {
    if (!this.filled) return;
    const pcm = this.filled === this.frameSamples ? this.frame : this.frame.slice(0, this.filled);
    const rms = Math.sqrt(this.squares / this.filled);
    this.port.postMessage({ type: "frame", pcm: pcm.buffer, rms }, [pcm.buffer]);
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.squares = 0;
  }
}

function lowPass(half, cutoff) {
  // Taps -half..half of a Blackman-windowed sinc with the cut-off `cutoff` (cycles per sample), unit DC gain.
  const taps = new Float32Array(2 * half + 1);
  let sum = 0;
  for (let i = -half; i <= half; i++) {
    const x = 2 * cutoff * i;
    const sinc = i === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const phase = (Math.PI * i) / (half + 1);
    const w = 0.42 + 0.5 * Math.cos(phase) + 0.08 * Math.cos(2 * phase);
    taps[i + half] = sinc * w;
    sum += taps[i + half];
  }
  for (let i = 0; i < taps.length; i++) taps[i] /= sum;
  return taps;
}

registerProcessor("ting-live-capture", TingLiveCapture);
