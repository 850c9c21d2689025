export { keyImageRoutes } from './key-images.route';
export { KeyImageService } from './key-images.service';
export { KEY_OBJECT_SELECTION, keyImagesOfKos } from './key-images.kos';
export { shownImages, type ShownImage, type ShownImages } from './key-images.reader';
