/*
 * The main() of each layer's link check (CMakeLists.txt, etl_layer): linked
 * with every object of one layer and only the layers below it, so that a
 * call from a layer to one above it fails to link.
 */
int main(void);

int main(void)
{
    return 0;
}
