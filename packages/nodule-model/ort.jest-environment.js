// onnxruntime-node builds its output tensors from typed arrays created in Node's main realm, while
// onnxruntime-common, loaded inside jest's sandbox, checks `data instanceof Float32Array` against the
// sandbox's own constructor and throws. Tests that run ORT use this environment
// (`@jest-environment ./packages/nodule-model/ort.jest-environment.js`, relative to the repo root), which shares the main realm's typed arrays.
// Production code runs in one realm and needs none of this.
const { TestEnvironment } = require('jest-environment-node');

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of ['Float32Array', 'Float64Array', 'Int32Array', 'Uint8Array', 'Int8Array', 'BigInt64Array']) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = OrtEnvironment;
