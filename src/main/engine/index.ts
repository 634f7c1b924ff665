/**
 * Public API of the upscaling engine. Callers (batch queue, web server, Electron main, CLI)
 * import from here only.
 */
export { DEFAULT_MAX_OVERLAP } from '../../shared/upscaleOptions.ts';
export { createEngine, DEFAULT_MAX_OUTPUT_PIXELS, OutputLimitError } from './engine.ts';
export {
  DEFAULT_MEMORY_BUDGET_BYTES,
  MIN_MEMORY_BUDGET_BYTES,
  parseMemorySize,
} from './tileSizing.ts';
export type { Engine, EngineConfig, RegionResult, RgbaImage, UpscaleHooks } from './engine.ts';
export type { Rect } from './bicubic.ts';
export { ImageInputError, type ImageInputProblem } from './imageInputError.ts';
export { DEFAULT_MAX_INPUT_PIXELS, type ImageHeader } from './imageDecode.ts';
export { writeAtomically } from './outputFile.ts';
export { FORMAT_NAMES, formatSizeProblem, wholeFrameEncoderBytes } from './imageEncode.ts';
export { ModelCardError } from './modelCard.ts';
export { readJpegQuality } from './jpegQuality.ts';
export { psnrY, ssimY, type YPlane } from './metrics.ts';
