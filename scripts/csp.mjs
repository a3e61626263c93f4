// The one Content-Security-Policy of the studio: everything from this origin only.
// 'wasm-unsafe-eval' lets tfjs / onnxruntime compile their WebAssembly; inline styles
// are Svelte's style attributes; blob: covers object URLs for downloads and images.
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');
