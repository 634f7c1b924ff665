/**
 * The request handlers of "Run on" and the Workers view, checked as every handler's arguments
 * are (src/main/api/handlers.ts spreads these into its table).
 */
import type { InvokeChannels, RunOn } from '../../shared/ipc.ts';
import { MAX_QUEUE_ADDRESS_LENGTH, parseRunOn, type ClusterService } from './clusterService.ts';
import { expectArgCount, expectRecord, expectString } from './validate.ts';

type ClusterChannel = 'cluster:runOn' | 'cluster:setRunOn' | 'cluster:test' | 'cluster:workers';

export function clusterHandlers(
  cluster: ClusterService | undefined,
  unavailable: (what: string) => Error,
): { [C in ClusterChannel]: (args: readonly unknown[]) => Promise<InvokeChannels[C]['result']> } {
  const service = (): ClusterService => {
    if (!cluster) throw unavailable('the cluster queue');
    return cluster;
  };
  return {
    'cluster:runOn': async (args) => {
      expectArgCount(args, 0);
      return service().runOn();
    },
    'cluster:setRunOn': async (args) => {
      expectArgCount(args, 1);
      const runOn: RunOn = parseRunOn(expectRecord(args[0], 'run on'));
      return service().setRunOn(runOn);
    },
    'cluster:test': async (args) => {
      expectArgCount(args, 1);
      return service().test(expectString(args[0], 'queue address', MAX_QUEUE_ADDRESS_LENGTH));
    },
    'cluster:workers': async (args) => {
      expectArgCount(args, 0);
      return service().workers();
    },
  };
}
