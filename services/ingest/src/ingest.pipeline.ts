// The pipeline lives in @yunying/archive so that every writer into the archive (STOW-RS, C-STORE, the
// inference service's Structured Reports) shares one path to three locked copies.
export * from '@yunying/archive';
