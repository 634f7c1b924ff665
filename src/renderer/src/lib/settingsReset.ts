/**
 * "Reset to defaults" in two sizes: the export options alone (size, format, output, naming),
 * keeping how this machine processes (device, quality, model, source, precision, tiles,
 * self-ensemble), or everything.
 */
import {
  cloneSettings,
  DEFAULT_EXPORT_SETTINGS,
  type ExportSettings,
} from '../../../shared/exportSettings.ts';

export function exportOptionsReset(current: ExportSettings): ExportSettings {
  return {
    ...cloneSettings(DEFAULT_EXPORT_SETTINGS),
    device: current.device,
    qualityPreset: current.qualityPreset,
    model: current.model,
    source: current.source,
    precision: current.precision,
    tileSize: current.tileSize,
    selfEnsemble: current.selfEnsemble,
  };
}
