/** App Mesh shapes, operations and validation: import from here. */
export * from './shapes.js';
export * from './smithy.js';
export * from './validate.js';
