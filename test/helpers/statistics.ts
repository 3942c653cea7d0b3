/** Mean and standard error of the mean (sample standard deviation / sqrt(count)) of at least two values. */
export function meanAndStandardError(values: number[]): { mean: number; se: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, se: Math.sqrt(variance / values.length) };
}
