/**
 * Recognises ONNX Runtime / CUDA / WebGPU out-of-memory errors, which the tiler answers by
 * retrying with smaller tiles instead of failing the image.
 */
const ALLOCATION_FAILURE =
  /bad_alloc|out of memory|failed to allocate|allocation fail|cudaErrorMemoryAllocation|CUDNN_STATUS_ALLOC_FAILED|OutOfMemory|ENOMEM/i;

export function isAllocationFailure(message: string): boolean {
  return ALLOCATION_FAILURE.test(message);
}

/** Thrown by an inference call that ran out of memory. */
export class AllocationFailure extends Error {
  override readonly name = 'AllocationFailure';
}
